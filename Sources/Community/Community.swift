// Community and sub-community membership. See docs/community.md.
