DROP TABLE promotions;
DROP INDEX users_marketing_opt_in;
ALTER TABLE users DROP COLUMN marketing_opt_in;
