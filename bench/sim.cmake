# The simulated world's benchmarks (sim engineer).
if(TARGET aether_sim)
  aether_bench(sim_kv_bench SOURCES sim_kv_bench.cc LIBS aether_sim)
endif()
# Converge then lose 5% of nodes at 10..2,000 nodes (issue 14); a plain main.
if(TARGET aether_sim AND TARGET aether_engine)
  add_executable(scale_bench scale_bench.cc)
  target_link_libraries(scale_bench PRIVATE aether_sim aether_engine nlohmann_json::nlohmann_json)
endif()
