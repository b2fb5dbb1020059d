// Energy community: households, strategies, coordinator. See docs/energy.md.
