"""The core API both front-ends call: firing, answering, holding, reflecting."""
