"""Worked solutions of the exercises, one module per chapter, with the templates' names (the book shows
them in a hidden dropdown; ``make test`` checks that each passes its exercise's check)."""
