"""Tools agents offer their models, and the box that runs them safely."""
