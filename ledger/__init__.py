"""ledger"""

X = 1
