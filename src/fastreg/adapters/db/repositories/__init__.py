"""The repositories of ``services/ports``, on SQLAlchemy: each is made by the unit of work for its transaction
and speaks the domain's entities; SQL, bind names, prepared statements and counters stay in this package."""
