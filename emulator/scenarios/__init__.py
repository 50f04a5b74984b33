"""The drill engine: scenario files, their timeline, selectors, the event
catalogue, expectations of what the NMS does, and run reports."""
