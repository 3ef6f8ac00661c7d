"""Things a person looks at: video grids of views, and later plots and reports."""
