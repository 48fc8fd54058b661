"""The city as data: OSM and delivered-layer import, drawing and checking grids, export, read models."""
