# cmake --install: the public headers under include/ in their folders
# (snn/, convert/, sim/), the static libraries snn_core, snn_convert and
# snn_sim exported as snn::core, snn::convert and snn::sim, snnConfig.cmake
# with its version file, and the snn program. A consumer writes
# find_package(snn) and links snn::sim (docs/library.md, examples/).
include(CMakePackageConfigHelpers)

# The same names in this build, for a project that adds snn as a subdirectory.
add_library(snn::core ALIAS snn_core)
add_library(snn::convert ALIAS snn_convert)
add_library(snn::sim ALIAS snn_sim)
set_target_properties(snn_core PROPERTIES EXPORT_NAME core)
set_target_properties(snn_convert PROPERTIES EXPORT_NAME convert)
set_target_properties(snn_sim PROPERTIES EXPORT_NAME sim)

set(SNN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/snn)

# Every header of the three library folders (sim/cli/ is the program's), and
# the .inc files: sim/neuron.hpp includes sim/neuron_rule.inc.
foreach(folder snn convert sim)
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${folder}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${folder}
          FILES_MATCHING PATTERN "*.hpp" PATTERN "*.inc"
          PATTERN "cli" EXCLUDE PATTERN "kinds" EXCLUDE)
endforeach()

install(TARGETS snn_core snn_convert snn_sim EXPORT snnTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS snn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT snnTargets NAMESPACE snn:: DESTINATION ${SNN_INSTALL_CMAKEDIR})

# Where this build found HDF5: the config file searches there first when it
# cannot use FindHDF5 (see cmake/snnConfig.cmake.in).
get_target_property(SNN_HDF5_INCLUDE_HINT hdf5::hdf5 INTERFACE_INCLUDE_DIRECTORIES)
get_target_property(SNN_HDF5_LIBRARY_HINT hdf5::hdf5 IMPORTED_LOCATION)
if(SNN_HDF5_LIBRARY_HINT)
  get_filename_component(SNN_HDF5_LIBRARY_HINT ${SNN_HDF5_LIBRARY_HINT} DIRECTORY)
else()
  set(SNN_HDF5_LIBRARY_HINT "")
endif()
if(NOT SNN_HDF5_INCLUDE_HINT)
  set(SNN_HDF5_INCLUDE_HINT "")
endif()

configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/snnConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/snnConfig.cmake
                              INSTALL_DESTINATION ${SNN_INSTALL_CMAKEDIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/snnConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/snnConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/snnConfigVersion.cmake
        DESTINATION ${SNN_INSTALL_CMAKEDIR})
