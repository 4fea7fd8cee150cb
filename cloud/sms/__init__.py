"""SMS: Persian text rules, providers behind one interface, sending with consent and quiet
hours, delivery reports and opt-out replies."""
