/** The MID the migration made for every merchant that existed before routing (migration 0020);
 * a payment without a mid_id was made on it. */
export const defaultMidId = 'mid_default';
