"""One router per resource; each route is a few lines around one service call."""
