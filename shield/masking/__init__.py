"""Personal-data masking: detectors for free text, value maskers and the JSON walk."""
