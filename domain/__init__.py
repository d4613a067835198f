"""The bottom layer: what every part of Accord shares and nothing below it could own.

The ownership registry (who owns each canonical field, how long it may be cached, how
sensitive it is, who may write it), canonical ids, roles, the caller, and audit records. Every
other folder may import it; it imports none of them.
"""
