-- The overlap check (a hold's nights [check_in, check_out) against
-- another's) looks for holds of the room with check_in < ? AND
-- check_out > ?. Indexed by check_in, it read every hold of the room that
-- begins before the asked check-out: all the past ones, a number that only
-- grows. Indexed by check_out, it reads the holds that end after the asked
-- check-in: the room's future bookings, bounded by how far ahead people
-- book.
DROP INDEX holds_room_dates;
CREATE INDEX holds_room_check_out ON holds (room_id, check_out);
