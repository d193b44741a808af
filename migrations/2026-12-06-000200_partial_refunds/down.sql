ALTER TABLE refunds DROP COLUMN taken_off_at, DROP COLUMN snack_lines, DROP COLUMN seat_numbers;
