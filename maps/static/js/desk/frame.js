/* The desk frame's own script (ES module, loaded by templates/desk_base.html on every desk page): the notification
 * bell in the header. */

import { mountBell } from '/static/js/desk/bell.js';

mountBell();
