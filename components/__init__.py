"""drkit's Pulumi components: one ComponentResource per module, composed by ImagingPlatform."""
