"""Pulumi-free knowledge and arithmetic: the catalog of dated facts, capacity sizing, throughput, cost, start-up time."""
