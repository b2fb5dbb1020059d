// Building surveillance. See docs/surveillance.md.
