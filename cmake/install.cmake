# `cmake --install build [--prefix P]`: the libraries and their headers, the
# `adamconf` command, the golden files, the adapters and the pytest helper,
# and a CMake package: find_package(adamconf) gives adamconf::reference,
# adamconf::properties, adamconf::golden, adamconf::float_adam,
# adamconf::gtest and the command as adamconf::adamconf.
include(CMakePackageConfigHelpers)

set(adamconf_libraries adamconf_util adamconf_json adamconf_reference adamconf_harness adamconf_protocol adamconf_suite
    adamconf_properties adamconf_golden adamconf_float_adam)
if(TARGET adamconf_gtest)
  list(APPEND adamconf_libraries adamconf_gtest)
endif()
foreach(t IN LISTS adamconf_libraries)
  string(REPLACE "adamconf_" "" exported ${t})
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${exported})
  add_library(adamconf::${exported} ALIAS ${t})
endforeach()

install(TARGETS ${adamconf_libraries} adamconf EXPORT adamconfTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir util reference harness protocol properties golden implementations/float integrations/gtest)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${dir}/include)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endforeach()

set(adamconf_share ${CMAKE_INSTALL_DATADIR}/adamconf)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/golden/traces ${PROJECT_SOURCE_DIR}/golden/documents DESTINATION ${adamconf_share}/golden)
install(FILES ${PROJECT_SOURCE_DIR}/golden/FORMAT.md DESTINATION ${adamconf_share}/golden)
# The adapters keep their source layout (the torch adapter imports ../common/adamconf_adapter.py).
install(FILES ${PROJECT_SOURCE_DIR}/adapters/template/minimal_adapter.py DESTINATION ${adamconf_share}/adapters/template)
install(FILES ${PROJECT_SOURCE_DIR}/adapters/torch/torch_adapter.py ${PROJECT_SOURCE_DIR}/adapters/torch/torch_optim_adapter.py
        DESTINATION ${adamconf_share}/adapters/torch)
install(FILES ${PROJECT_SOURCE_DIR}/adapters/common/adamconf_adapter.py DESTINATION ${adamconf_share}/adapters/common)
install(FILES ${PROJECT_SOURCE_DIR}/integrations/pytest/adamconf_pytest.py DESTINATION ${adamconf_share}/python)
install(FILES ${PROJECT_SOURCE_DIR}/docs/protocol.md ${PROJECT_SOURCE_DIR}/docs/error-model.md ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(adamconf_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/adamconf)
install(EXPORT adamconfTargets NAMESPACE adamconf:: DESTINATION ${adamconf_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/adamconfConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/adamconfConfig.cmake INSTALL_DESTINATION ${adamconf_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/adamconfConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/adamconfConfig.cmake ${PROJECT_BINARY_DIR}/adamconfConfigVersion.cmake
        DESTINATION ${adamconf_cmake_dir})
