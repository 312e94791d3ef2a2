# rdp.cmake - what the RDP backend's sources (src/rdp*.c, src/guac*.c) need beyond the
# gateway's own libraries: libpng and libjpeg(-turbo) for the display encoder.
# include() it from gateway/CMakeLists.txt after portico_gateway is defined; it is
# idempotent, and tests/unit/gateway_rdp includes it too (CMP0079: linking a target
# defined in another directory) so the gateway links while the include is not wired.
if(NOT TARGET PkgConfig::RDP_IMG)
  pkg_check_modules(RDP_IMG REQUIRED IMPORTED_TARGET GLOBAL libpng libjpeg)
endif()
if(TARGET portico_gateway)
  get_target_property(_rdp_img_linked portico_gateway PORTICO_RDP_IMG_LINKED)
  if(NOT _rdp_img_linked)
    target_link_libraries(portico_gateway PRIVATE PkgConfig::RDP_IMG)
    set_target_properties(portico_gateway PROPERTIES PORTICO_RDP_IMG_LINKED ON)
  endif()
endif()
