"""Small helpers shared by every room of the house (atomic file writes, seeding)."""
