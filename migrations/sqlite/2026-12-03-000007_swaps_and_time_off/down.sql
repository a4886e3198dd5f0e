DROP TABLE time_off;
DROP TABLE swap_requests;
ALTER TABLE schedules DROP COLUMN swaps_need_approval;
