# `doc`: the API reference of the public headers (snn/, convert/, sim/) as
# HTML in <build>/doc/html, made by Doxygen where it is installed
# (apt-get install doxygen); without it there is no such target.
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  set(DOXYGEN_PROJECT_NAME snn)
  set(DOXYGEN_PROJECT_NUMBER ${PROJECT_VERSION})
  set(DOXYGEN_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/doc)
  set(DOXYGEN_FILE_PATTERNS *.hpp *.md)
  set(DOXYGEN_EXCLUDE ${CMAKE_CURRENT_SOURCE_DIR}/sim/cli)
  set(DOXYGEN_STRIP_FROM_PATH ${CMAKE_CURRENT_SOURCE_DIR})
  set(DOXYGEN_STRIP_FROM_INC_PATH ${CMAKE_CURRENT_SOURCE_DIR})
  set(DOXYGEN_USE_MDFILE_AS_MAINPAGE ${CMAKE_CURRENT_SOURCE_DIR}/docs/library.md)
  set(DOXYGEN_FILTER_PATTERNS "*.hpp=sed -f ${CMAKE_CURRENT_SOURCE_DIR}/cmake/doxygen_comments.sed")
  set(DOXYGEN_EXTRACT_ALL YES)
  set(DOXYGEN_EXTRACT_PRIVATE NO)
  set(DOXYGEN_WARN_IF_UNDOCUMENTED NO)
  set(DOXYGEN_GENERATE_LATEX NO)
  set(DOXYGEN_QUIET YES)
  doxygen_add_docs(doc ${CMAKE_CURRENT_SOURCE_DIR}/snn ${CMAKE_CURRENT_SOURCE_DIR}/convert
                   ${CMAKE_CURRENT_SOURCE_DIR}/sim ${CMAKE_CURRENT_SOURCE_DIR}/docs/library.md
                   COMMENT "API reference in ${CMAKE_CURRENT_BINARY_DIR}/doc/html")
endif()
