// The Service Delivery Platform. See docs/services.md.
