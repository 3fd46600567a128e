# Doxygen input filter (cmake/doc.cmake): the headers document in plain //
# comments, which Doxygen skips, so they are read as Doxygen's own. The comment
# after #pragma once describes the file; a comment on its own line documents
# what follows it; one after a member's ; or , documents that member.
/^#pragma once$/{
n
s#^// \(.*\)$#/// \\file\n/// \1#
}
s#^\([[:space:]]*\)//\( \|$\)#\1///\2#
s#\([;,]\)\([[:space:]]*\)// #\1\2///< #
