"""Helpers shared by several test modules (plain functions and data, not tests): import
them from here, never from another test module or a conftest."""
