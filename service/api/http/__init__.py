"""HTTP helpers of the routes: problem details, query parameters, limited bodies, the longest
span, CSV and JSON Lines streams, export limits.
"""
