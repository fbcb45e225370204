"""Offline deploy: run the Pulumi program under mocks and turn each registration into boto3
calls against any endpoint (the embedded cloud, usually). One handler module per service;
``program`` runs the program, ``engine`` drives a deploy. Not the emulator."""
