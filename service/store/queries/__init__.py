"""Read queries over the read models at (`as_of`, `known_at`): the scoreboard and funnel, deals,
teams, plans, analytics and export rows.
"""
