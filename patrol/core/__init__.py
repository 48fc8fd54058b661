"""Infrastructure every part of the domain stands on.

Settings, engines and sessions, migrations, the SQL dialect seams, GeoDataFrame frames, the persistent model, domain
errors and who is asking (auth).
"""
