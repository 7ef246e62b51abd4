"""The road network: segments and gazetteer, import, geometry, basemap, locating text reports, the road graph and stretches."""
