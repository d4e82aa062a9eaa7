"""The studio pages, one router per page."""
