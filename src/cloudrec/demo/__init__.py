"""`cloudrec demo`: a first recording out of the box, with live test sources of its own."""
