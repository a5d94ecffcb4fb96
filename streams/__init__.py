"""The Faust topology: adapters that run the pure core on Kafka."""
