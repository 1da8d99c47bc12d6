"""``newsingest serve``: the read-only HTTP API and the HTML status page."""
