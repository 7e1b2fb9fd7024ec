package shop

// Product is something the demo shop sells. Prices are in cents (USD).
type Product struct {
	ID          string
	Name        string
	Description string
	Price       int64
	Colour      string // of the product picture
}

// catalog is the shop's fixed range.
var catalog = []Product{
	{ID: "hoodie", Name: "Herald Hoodie", Description: "Heavy cotton, embroidered bell.", Price: 4500, Colour: "#0f766e"},
	{ID: "mug", Name: "Enamel Mug", Description: "Survives campfires and deploys.", Price: 1400, Colour: "#b45309"},
	{ID: "notebook", Name: "Field Notebook", Description: "48 dot-grid pages, pocket size.", Price: 950, Colour: "#4338ca"},
	{ID: "stickers", Name: "Sticker Pack", Description: "Six vinyl stickers.", Price: 400, Colour: "#be123c"},
}

func productByID(id string) (Product, bool) {
	for _, p := range catalog {
		if p.ID == id {
			return p, true
		}
	}
	return Product{}, false
}
