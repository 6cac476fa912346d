"""The sweeper: one small deployment that fails stuck jobs and deletes jobs past their retention."""
