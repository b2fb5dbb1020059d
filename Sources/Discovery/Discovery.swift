// Local discovery of bootstrap peers on the LAN. See docs/overlay.md.
