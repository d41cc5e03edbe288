"""The strategic portfolio of SES-MG: the plan, weekly status, milestones, critical points."""
