"""The live views: the wall display's figures and the public road query."""
