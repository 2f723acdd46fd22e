{ pkgs }: pkgs.megapak.fromList ./pak3.txt
