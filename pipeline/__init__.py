"""Page -> clean article -> (later) copy cluster -> story cluster. No network, no SQL."""
