# The simulated world's benchmarks (sim engineer).
if(TARGET aether_sim)
  aether_bench(sim_kv_bench SOURCES sim_kv_bench.cc LIBS aether_sim)
endif()
