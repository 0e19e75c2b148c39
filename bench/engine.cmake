# The deployment manager under failover on the simulated world.
aether_bench(engine_failover_bench SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/engine_failover_bench.cc LIBS aether_sim aether_engine)
