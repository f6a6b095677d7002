"""`instructpipe report`: one self-contained HTML page showing what a run did and what its data
looks like (`render.write_report`); `figures` also feeds the dataset card."""
