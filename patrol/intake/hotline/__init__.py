"""The 12345 hotline exchange (一个门进、一个门出): work orders in (:mod:`.orders`, from a file or pushed), the
待定位 queue of orders no building was found for (:mod:`.unlocated`), results back and the 回访 feedback in
(:mod:`.results`), all laid out by a mapping file (:mod:`.mapping`)."""
