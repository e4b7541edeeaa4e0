"""ledger"""
X = 1
