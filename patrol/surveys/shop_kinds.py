"""What a shop is, in words: OpenStreetMap's ``shop=*`` and ``amenity=*`` values (``hairdresser``, ``fast_food`` …)
as Chinese (the default) and English labels. The value itself stays in ``kind`` (it is data, and what a search by
kind matches); answers add ``kind_name`` ``{zh, en}``, which the pages show in their language. An unknown value
reads 其他商户 in Chinese and its words in English (``car_parts`` → Car parts)."""

from __future__ import annotations

#: OSM value → (zh, en)
LABELS: dict[str, tuple[str, str]] = {
    # shop=*
    "convenience": ("便利店", "Convenience store"), "supermarket": ("超市", "Supermarket"),
    "hairdresser": ("理发店", "Hairdresser"), "beauty": ("美容店", "Beauty salon"), "bakery": ("面包房", "Bakery"),
    "butcher": ("肉铺", "Butcher"), "greengrocer": ("果蔬店", "Greengrocer"), "fruit": ("水果店", "Fruit shop"),
    "pharmacy": ("药店", "Pharmacy"), "chemist": ("日化店", "Chemist"), "hardware": ("五金店", "Hardware store"),
    "doityourself": ("建材五金店", "DIY store"), "laundry": ("洗衣店", "Laundry"),
    "dry_cleaning": ("干洗店", "Dry cleaner"), "clothes": ("服装店", "Clothes shop"), "shoes": ("鞋店", "Shoe shop"),
    "jewelry": ("珠宝店", "Jeweller"), "optician": ("眼镜店", "Optician"), "florist": ("花店", "Florist"),
    "books": ("书店", "Bookshop"), "stationery": ("文具店", "Stationery shop"), "kiosk": ("报亭", "Kiosk"),
    "newsagent": ("报刊店", "Newsagent"), "tobacco": ("烟草店", "Tobacconist"), "alcohol": ("酒类专卖", "Off-licence"),
    "wine": ("酒类专卖", "Wine shop"), "beverages": ("饮料店", "Drinks shop"),
    "confectionery": ("糖果店", "Sweet shop"),
    "deli": ("熟食店", "Delicatessen"), "seafood": ("水产店", "Fishmonger"),
    "mobile_phone": ("手机店", "Mobile phones"),
    "electronics": ("电器店", "Electronics"), "computer": ("电脑店", "Computer shop"),
    "furniture": ("家具店", "Furniture"), "interior_decoration": ("家居装饰店", "Interior decoration"),
    "gift": ("礼品店", "Gift shop"), "toys": ("玩具店", "Toy shop"), "sports": ("体育用品店", "Sports shop"),
    "bicycle": ("自行车店", "Bicycle shop"), "car": ("汽车销售", "Car dealer"),
    "car_repair": ("汽车修理", "Car repair"),
    "car_parts": ("汽车配件", "Car parts"), "tyres": ("轮胎店", "Tyres"), "pet": ("宠物店", "Pet shop"),
    "variety_store": ("杂货店", "Variety store"), "general": ("杂货店", "General store"),
    "department_store": ("百货商店", "Department store"), "mall": ("商场", "Shopping centre"),
    "second_hand": ("二手店", "Second-hand shop"), "charity": ("慈善商店", "Charity shop"),
    "travel_agency": ("旅行社", "Travel agency"), "copyshop": ("打印复印店", "Copy shop"),
    "photo": ("照相馆", "Photo shop"), "tailor": ("裁缝店", "Tailor"), "massage": ("按摩店", "Massage"),
    "tattoo": ("纹身店", "Tattoo studio"), "cosmetics": ("化妆品店", "Cosmetics"), "perfumery": ("香水店", "Perfumery"),
    "bag": ("箱包店", "Bags"), "watches": ("钟表店", "Watches"), "art": ("艺术品店", "Art shop"),
    "music": ("音像店", "Music shop"), "garden_centre": ("园艺店", "Garden centre"),
    "outdoor": ("户外用品店", "Outdoor"),
    "houseware": ("家居用品店", "Houseware"), "kitchen": ("厨具店", "Kitchen shop"), "paint": ("油漆店", "Paint shop"),
    "funeral_directors": ("殡葬服务", "Funeral directors"), "estate_agent": ("房产中介", "Estate agent"),
    "lottery": ("彩票店", "Lottery"), "ticket": ("票务店", "Tickets"), "coffee": ("咖啡豆店", "Coffee shop"),
    "tea": ("茶叶店", "Tea shop"), "chocolate": ("巧克力店", "Chocolate shop"), "pastry": ("糕点店", "Pastry shop"),
    "hearing_aids": ("助听器店", "Hearing aids"), "medical_supply": ("医疗器械店", "Medical supplies"),
    "vacant": ("空置商铺", "Vacant shop"), "yes": ("商户", "Shop"),
    # amenity=* (patrol.surveys.shops.OSM_AMENITIES, and neighbours)
    "restaurant": ("餐馆", "Restaurant"), "cafe": ("咖啡馆", "Café"), "fast_food": ("快餐店", "Fast food"),
    "bar": ("酒吧", "Bar"), "pub": ("酒馆", "Pub"), "ice_cream": ("冷饮店", "Ice cream"),
    "food_court": ("美食广场", "Food court"),
}


def kind_name(kind: str | None) -> dict[str, str] | None:
    """``{zh, en}`` for an OSM shop/amenity value; None for no value."""
    if not kind:
        return None
    value = kind.strip().lower()
    if value in LABELS:
        zh, en = LABELS[value]
        return {"zh": zh, "en": en}
    return {"zh": "其他商户", "en": value.replace("_", " ").capitalize()}


def kind_zh(kind: str | None) -> str | None:
    """The Chinese label of a value (for names made on import, e.g. 未命名商户（理发店）)."""
    name = kind_name(kind)
    return name["zh"] if name else None
