"""The embedded cloud: moto served on 127.0.0.1 plus a simulation of what moto lacks."""
